//! Builds the Bitbucket component (see `atom-component-build`).

fn main() {
    atom_component_build::build(
        "component-build",
        &[atom_component_build::Component {
            package: "atom-bitbucket-plugin",
            dir: "plugin",
            env_var: "ATOM_BITBUCKET_COMPONENT",
        }],
    );
}
