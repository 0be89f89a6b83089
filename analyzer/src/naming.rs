//! Names for the nodes no span of their own describes: where an unpaired CLIENT went, and who
//! called an unpaired SERVER.

use meshlens_collector::Interner;
use meshlens_collector::span::Protocol;

use crate::graph::NodeRef;
use crate::half::Half;
use crate::snapshot::NodeKind;

/// Node id of the outside world: the caller of root SERVER spans and of gateways.
pub const USER: &str = "user";
/// Node id of a caller that should have been seen but never was.
pub const UNKNOWN: &str = "unknown";

/// A node named only by `name`.
pub fn named(interner: &Interner, name: &str, kind: NodeKind) -> NodeRef {
    let id = interner.intern(name);
    NodeRef {
        id,
        service: id,
        namespace: None,
        kind,
        version: None,
    }
}

/// Where a CLIENT/PRODUCER half went (or where a root CONSUMER read from), from the caller's facts, in order of trust: the
/// cluster-local service (so it merges with the real node when that one reports too),
/// `peer.service`, the host as addressed, the database, the broker, the peer address.
pub fn destination(interner: &Interner, client: &Half) -> NodeRef {
    let d = &client.destination;
    let kind = if d.db_system.is_some() || client.protocol == Protocol::Db {
        NodeKind::Database
    } else if d.messaging_system.is_some() || client.protocol == Protocol::Messaging {
        NodeKind::Messaging
    } else {
        NodeKind::Virtual
    };
    if let (Some(service), Some(namespace)) = (d.service, d.namespace) {
        let id = format!(
            "{}.{}",
            interner.resolve(service),
            interner.resolve(namespace)
        );
        return NodeRef {
            id: interner.intern(&id),
            service,
            namespace: Some(namespace),
            kind,
            version: None,
        };
    }
    let by_name = [
        d.peer_service,
        d.host,
        d.db_name,
        d.db_system,
        d.messaging_system,
    ];
    if let Some(sym) = by_name.into_iter().flatten().next() {
        return NodeRef {
            id: sym,
            service: sym,
            namespace: None,
            kind,
            version: None,
        };
    }
    match client.peer {
        Some(peer) => named(interner, &peer.ip.to_string(), kind),
        None => named(interner, UNKNOWN, kind),
    }
}
