//! Unit tests of `project.rs`: SPDX expressions, requirement rendering, entry-point object references.
use super::*;

#[test]
fn spdx_expressions() {
    for ok in [
        "MIT",
        "MIT OR Apache-2.0",
        "(MIT AND BSD-3-Clause) OR GPL-2.0-or-later WITH Classpath-exception-2.0",
        "LicenseRef-Proprietary",
    ] {
        check_spdx(ok).unwrap_or_else(|e| panic!("{ok}: {e}"));
    }
    for bad in ["", "MIT OR", "(MIT", "MIT)", "MIT Apache-2.0", "MIT, BSD"] {
        assert!(check_spdx(bad).is_err(), "{bad}");
    }
}

#[test]
fn requirements_render_like_uv_build() {
    assert_eq!(
        requirement("Requests >= 2.8", None).unwrap(),
        "requests>=2.8"
    );
    let x = ExtraName::new("Fast".into()).unwrap();
    assert_eq!(
        requirement("uvloop; sys_platform != 'win32'", Some(&x)).unwrap(),
        "uvloop ; sys_platform != 'win32' and extra == 'fast'"
    );
    assert!(requirement("requests >=", None).is_err());
    assert!(requirement("requests[", None).is_err());
}

#[test]
fn object_references() {
    assert!(object_reference("pkg.cli:main"));
    assert!(object_reference("pkg"));
    assert!(!object_reference("pkg cli:main"));
    assert!(!object_reference("pkg:"));
    assert!(!object_reference("1pkg:main"));
    // Extras: deprecated, valid.
    assert!(object_reference("pkg.cli:main [fast]"));
    assert!(object_reference("pkg.cli:main [fast, colour.x]"));
    assert!(object_reference("pkg.cli:main[fast]"));
    assert!(!object_reference("pkg.cli:main [fast"));
    assert!(!object_reference("pkg.cli:main [fast,]"));
    assert!(!object_reference("pkg.cli:main [] x"));
}
