//! UI tests of `#[actor]`: the services that must compile (and run), and the
//! one error each mistake must give, at the user's own tokens.
//!
//! Regenerate the `.stderr` snapshots with `TRYBUILD=overwrite cargo test -p
//! courier-macros --test ui`, then read every one.

#[test]
fn ui() {
    let cases = trybuild::TestCases::new();
    cases.pass("tests/ui/pass/*.rs");
    // The README's program, exactly as the example ships it.
    cases.pass("../examples/quickstart.rs");
    cases.compile_fail("tests/ui/fail/*.rs");
}
