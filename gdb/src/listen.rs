//! Where the server listens: loopback only, unless the caller allows more.

use std::net::{SocketAddr, TcpListener};

use crate::GdbError;

/// Listen on `addr` for LLDB. An address off the loopback interface is
/// refused unless `any_host` (the protocol has no authentication).
pub fn listen(addr: SocketAddr, any_host: bool) -> Result<TcpListener, GdbError> {
    if !addr.ip().is_loopback() && !any_host {
        return Err(GdbError::NotLoopback(addr));
    }
    Ok(TcpListener::bind(addr)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_loopback_unless_allowed() {
        let any: SocketAddr = "0.0.0.0:0".parse().unwrap();
        assert!(matches!(listen(any, false), Err(GdbError::NotLoopback(_))));
        assert!(listen("127.0.0.1:0".parse().unwrap(), false).is_ok());
        assert!(listen(any, true).is_ok());
    }
}
