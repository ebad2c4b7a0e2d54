#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| atom_bitbucket_plugin::fuzzing::execute_params(data));
