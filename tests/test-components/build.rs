//! Builds the test components in one nested cargo (see `atom-component-build`).

use atom_component_build::{Component, build};

fn main() {
    build(
        "test-components-build",
        &[
            Component {
                package: "atom-spinner",
                dir: "tests/spinner",
                env_var: "ATOM_SPINNER_COMPONENT",
            },
            Component {
                package: "atom-hello",
                dir: "tests/hello",
                env_var: "ATOM_HELLO_COMPONENT",
            },
        ],
    );
}
