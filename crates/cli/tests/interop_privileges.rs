//! `synack nc` without the privileges a TUN device needs: it exits non-zero with one sentence
//! that names what is missing, and no panic or backtrace.

use std::os::unix::fs::PermissionsExt;
use std::path::PathBuf;
use std::time::Duration;
use synack_tests::netns::{require_program, Finished, Netns, StdinFrom, StdoutTo, SynackNc};

const T: Duration = Duration::from_secs(30);

/// A copy of the binary that any user may run: the build directory may not be readable by
/// `nobody`, and a test of synack's message must not turn into one of setpriv's.
struct RunnableCopy {
    _dir: tempfile::TempDir,
    path: PathBuf,
}

fn runnable_copy() -> RunnableCopy {
    let dir = tempfile::tempdir().expect("temporary directory");
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755))
        .expect("chmod the directory");
    let path = dir.path().join("synack");
    std::fs::copy(synack_tests::synack_bin!(), &path).expect("copy the binary");
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755))
        .expect("chmod the binary");
    RunnableCopy { _dir: dir, path }
}

/// Runs `setpriv <setpriv_args> synack nc --tun DEV ... -l 7` in a namespace with tun0.
fn run_without(setpriv_args: &[&str], dev: &str, test: &str) -> Finished {
    require_program("setpriv");
    let ns = Netns::with_tun(test);
    let copy = runnable_copy();
    let nc = SynackNc::on_device(&copy.path, dev).arg("-l").arg("7");
    let mut argv: Vec<std::ffi::OsString> = vec!["setpriv".into()];
    argv.extend(setpriv_args.iter().map(Into::into));
    argv.extend(nc.argv().iter().cloned());
    ns.spawn(&argv, StdinFrom::Null, StdoutTo::Collect).wait(T)
}

fn assert_one_clear_sentence(done: &Finished) {
    let err = done.stderr.trim();
    assert!(
        !done.status.success(),
        "synack ran without privileges:\n{err}"
    );
    assert!(
        !err.contains("setpriv:"),
        "setpriv itself failed, synack did not run: {err}"
    );
    assert!(!err.contains("panicked"), "{err}");
    assert!(!err.contains("backtrace"), "{err}");
    assert!(
        err.contains("CAP_NET_ADMIN") || err.contains("/dev/net/tun"),
        "the message does not say what is missing: {err}"
    );
    assert_eq!(err.lines().count(), 1, "one sentence, one line: {err}");
}

/// nobody cannot open /dev/net/tun (mode 0600), whatever the device.
#[test]
fn as_nobody_it_says_what_is_missing() {
    let done = run_without(
        &["--reuid=65534", "--regid=65534", "--clear-groups"],
        "tun0",
        "priv-nobody",
    );
    assert_one_clear_sentence(&done);
}

/// Root without CAP_NET_ADMIN can open /dev/net/tun but not create a device. (It can attach to
/// an existing persistent device that has no owner or group set: Linux's tun driver asks for
/// CAP_NET_ADMIN only when the device has an owner or group the caller does not match, so that
/// case runs, as the kernel allows.)
#[test]
fn as_root_without_net_admin_it_says_what_is_missing() {
    let done = run_without(
        &["--bounding-set=-net_admin", "--inh-caps=-net_admin"],
        "synack-new0",
        "priv-no-net-admin",
    );
    assert_one_clear_sentence(&done);
    assert!(done.stderr.contains("CAP_NET_ADMIN"), "{}", done.stderr);
}
