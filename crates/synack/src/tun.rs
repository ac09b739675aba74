//! Linux TUN devices (IFF_TUN | IFF_NO_PI): the kernel routes IP packets to the device and synack
//! reads them; what synack writes, the kernel receives as if from a network.

use crate::device::{packet_fd_device, PacketFd};
use crate::sys;
use std::io;

const TUN_PATH: &str = "/dev/net/tun";

/// Where and how to open a TUN device.
#[derive(Clone, Debug, Default)]
pub struct TunOptions {
    /// Interface name: an existing TUN device is attached to, a missing one is created (it then
    /// disappears when synack closes it, unless made persistent with `ip tuntap add`).
    pub name: String,
    /// Open the device inside this network namespace (a name from `ip netns list`) instead of the
    /// caller's. The rest of the process stays where it is.
    pub netns: Option<String>,
}

impl TunOptions {
    /// Options for device `name` in the caller's namespace.
    pub fn new(name: impl Into<String>) -> TunOptions {
        TunOptions {
            name: name.into(),
            netns: None,
        }
    }
}

/// An open TUN device.
#[derive(Debug)]
pub struct Tun(PacketFd);

impl Tun {
    /// Opens (or creates) the device, brings it up, and reads its MTU. Errors say what is missing
    /// and how to fix it (permissions, the device node, a name held by another process).
    pub fn open(options: &TunOptions) -> io::Result<Tun> {
        match &options.netns {
            None => Tun::open_here(&options.name),
            Some(ns) => {
                let name = options.name.clone();
                sys::in_netns(ns, move || Tun::open_here(&name))
            }
        }
    }

    fn open_here(name: &str) -> io::Result<Tun> {
        let fd = sys::open_rw_nonblocking(TUN_PATH).map_err(|e| explain_open_error(&e))?;
        let name = sys::tun_set_iff(&fd, name).map_err(|e| explain_attach_error(&e, name))?;
        sys::interface_up(&name).map_err(|e| {
            io::Error::new(
                e.kind(),
                format!("cannot bring TUN device {name} up: {e} (run `ip link set {name} up` as root, or run synack with CAP_NET_ADMIN)"),
            )
        })?;
        let mtu = sys::interface_mtu(&name)?;
        Ok(Tun(PacketFd { fd, mtu, name }))
    }
}

fn explain_open_error(e: &io::Error) -> io::Error {
    let why = match e.kind() {
        io::ErrorKind::NotFound => format!(
            "{TUN_PATH} does not exist: this system has no TUN support loaded (`modprobe tun`), or a container was started without the device (docker: --device /dev/net/tun)"
        ),
        io::ErrorKind::PermissionDenied => format!(
            "no permission to open {TUN_PATH}: run synack as root or with CAP_NET_ADMIN (`sudo setcap cap_net_admin+ep $(command -v synack)`), or make the device node accessible to your user"
        ),
        _ => format!("cannot open {TUN_PATH}: {e}"),
    };
    io::Error::new(e.kind(), why)
}

fn explain_attach_error(e: &io::Error, name: &str) -> io::Error {
    let why = match e.raw_os_error() {
        Some(libc::EPERM) | Some(libc::EACCES) => format!(
            "creating or attaching TUN device {name} needs CAP_NET_ADMIN: run synack as root, grant it (`sudo setcap cap_net_admin+ep $(command -v synack)`), or let your user attach to a prepared device (`sudo ip tuntap add dev {name} mode tun user $USER`)"
        ),
        Some(libc::EBUSY) => format!(
            "TUN device {name} is in use by another process (a single-queue TUN device has one reader): stop that process or choose another name"
        ),
        Some(libc::EINVAL) => format!(
            "{name} exists but is not a TUN device without packet information (IFF_TUN | IFF_NO_PI): choose another name, or prepare one with `ip tuntap add dev NAME mode tun`"
        ),
        _ => format!("cannot attach TUN device {name}: {e}"),
    };
    io::Error::new(e.kind(), why)
}

packet_fd_device!(Tun);
