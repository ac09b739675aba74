//! Which running stacks `synack ss` and `synack netstat -s` talk to: the one `--control PATH`
//! names, or every live socket in the default directory.

use std::io;
use std::path::{Path, PathBuf};
use synack::ControlClient;

/// How to turn the control socket on, for error messages.
const HOW_TO_ENABLE: &str =
    "start the stack with a control socket: `synack nc --control [PATH] ...` \
     or, in a program, `Net::serve_control(path)`";

/// A connected stack and where it was found.
pub struct Target {
    /// The socket's path.
    pub path: PathBuf,
    /// The connection to it.
    pub client: ControlClient,
}

/// Connects to `explicit`, or to every live `*.sock` in [`synack::control::default_dir`].
/// Dead sockets (their process is gone) are reported on stderr and skipped.
pub fn connect(explicit: Option<&Path>) -> Result<Vec<Target>, String> {
    if let Some(path) = explicit {
        let client = ControlClient::connect(path).map_err(|e| {
            format!(
                "cannot reach the control socket {}: {e}; {HOW_TO_ENABLE}",
                path.display()
            )
        })?;
        return Ok(vec![Target {
            path: path.to_path_buf(),
            client,
        }]);
    }
    let dir = synack::control::default_dir();
    let mut paths = socket_files(&dir).unwrap_or_default();
    paths.sort();
    let mut targets = Vec::new();
    for path in paths {
        match ControlClient::connect(&path) {
            Ok(client) => targets.push(Target { path, client }),
            Err(e) if e.kind() == io::ErrorKind::ConnectionRefused => {
                eprintln!(
                    "synack: skipping dead control socket {} (its process is gone)",
                    path.display()
                );
            }
            Err(e) => eprintln!("synack: skipping control socket {}: {e}", path.display()),
        }
    }
    if targets.is_empty() {
        return Err(format!(
            "no running synack stack has a control socket in {}; {HOW_TO_ENABLE}, or give --control PATH",
            dir.display()
        ));
    }
    Ok(targets)
}

/// The `*.sock` files in `dir`.
fn socket_files(dir: &Path) -> io::Result<Vec<PathBuf>> {
    Ok(std::fs::read_dir(dir)?
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "sock"))
        .collect())
}
