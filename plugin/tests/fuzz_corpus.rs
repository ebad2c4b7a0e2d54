//! The fuzz targets of `fuzz/`, in brief, under `cargo test`: each target's
//! entry point over its committed corpus and a few thousand deterministic
//! mutations of it. A panic anywhere fails the test and names the input.
//! The real fuzzing runs with `scripts/battery`. Native only, as the
//! `fuzzing` module is.
#![cfg(not(target_arch = "wasm32"))]

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::PathBuf;

use atom_bitbucket_plugin::fuzzing;

const MUTATIONS: usize = 3000;

/// Fragments worth splicing in: JSON edges, Bitbucket's field names, and
/// the shapes that break careless parsers.
const TOKENS: &[&[u8]] = &[
    b"null",
    b"true",
    b"-1",
    b"1e999",
    b"18446744073709551616",
    b"\"\"",
    b"[]",
    b"{}",
    b"\"\\u0000\"",
    b"\"\\ud800\"",
    b"\"next\":",
    b"\"values\":",
    b"\"page\":",
    b"\"size\":",
    b"\"uuid\":",
    b"\"error\":",
    b"\"fields\":",
    b"\"type\":",
    b"\"state\":",
    b"\"links\":",
    b"\"href\":",
    b"\"http://[::1\"",
    b"\"id\":",
    b"\xff\xfe",
    b"\n",
    b"\n\n",
    b"sha256=",
    b"X-Event-Key: ",
    b"pullrequest:",
    b"repo:push",
    b"x-fuzz-sign: 1\n",
    b"\"page\":{\"cursor\":\"",
    b"%ZZ",
];

/// A small deterministic generator (splitmix64): the same inputs every run.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: usize) -> usize {
        if n == 0 {
            0
        } else {
            (self.next() % n as u64) as usize
        }
    }
}

fn mutate(rng: &mut Rng, seed: &[u8], other: &[u8]) -> Vec<u8> {
    let mut data = seed.to_vec();
    for _ in 0..=rng.below(4) {
        let at = rng.below(data.len() + 1);
        match rng.below(6) {
            0 if !data.is_empty() => {
                let i = rng.below(data.len());
                data[i] ^= 1 << rng.below(8);
            }
            1 => {
                let end = (at + rng.below(16)).min(data.len());
                data.drain(at..end);
            }
            2 => {
                let token = TOKENS[rng.below(TOKENS.len())];
                data.splice(at..at, token.iter().copied());
            }
            3 => data.truncate(at),
            4 if !other.is_empty() => {
                let from = rng.below(other.len());
                let end = (from + rng.below(64)).min(other.len());
                data.splice(at..at, other[from..end].iter().copied());
            }
            _ => {
                let byte = rng.next() as u8;
                data.insert(at, byte);
            }
        }
    }
    data
}

fn corpus(target: &str) -> Vec<Vec<u8>> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../fuzz/corpus")
        .join(target);
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|entry| entry.unwrap().path())
        .collect();
    files.sort();
    assert!(
        files.len() >= 3,
        "{target} needs a seed corpus in {}",
        dir.display()
    );
    files.iter().map(|f| std::fs::read(f).unwrap()).collect()
}

fn run(target: &str, entry: fn(&[u8])) {
    let seeds = corpus(target);
    let mut rng = Rng(0x5eed ^ target.len() as u64);
    let inputs = seeds.iter().cloned().chain((0..MUTATIONS).map(|_| {
        let seed = &seeds[rng.below(seeds.len())];
        let other = &seeds[rng.below(seeds.len())];
        mutate(&mut rng, seed, other)
    }));
    for input in inputs {
        if catch_unwind(AssertUnwindSafe(|| entry(&input))).is_err() {
            panic!("{target} panicked on {:?}", String::from_utf8_lossy(&input));
        }
    }
}

#[test]
fn upstream_answers_never_panic() {
    run("upstream_answer", fuzzing::upstream_answer);
}

#[test]
fn webhook_deliveries_never_panic() {
    run("webhook", fuzzing::webhook);
}

#[test]
fn execute_params_never_panic() {
    run("execute_params", fuzzing::execute_params);
}
