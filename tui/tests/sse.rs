//! The server-sent-events parser on byte streams split at odd places.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use meshlens_tui::sse::{SseParser, normalize_base_url, update_from_event};
use meshlens_tui::{Update, sample};

fn stream() -> (Vec<u8>, String) {
    let data = sample::bookinfo();
    let json = serde_json::json!({
        "graph": data.graph,
        "anomalies": data.anomalies,
    })
    .to_string();
    let mut bytes = Vec::new();
    bytes.extend_from_slice(b": keep-alive comment\n\n");
    bytes.extend_from_slice(format!("event: update\ndata: {json}\n\n").as_bytes());
    bytes.extend_from_slice(b"event: other\ndata: x\n\n");
    // CRLF line ends and a multi-line data field.
    bytes.extend_from_slice(b"event: note\r\ndata: a\r\ndata:b\r\n\r\n");
    bytes.extend_from_slice(format!("event:update\ndata:{json}\n\n").as_bytes());
    (bytes, json)
}

#[test]
fn events_survive_any_chunking() {
    let (bytes, json) = stream();
    for chunk in [1usize, 2, 3, 7, 13, 64, 1000, bytes.len()] {
        let mut parser = SseParser::new();
        let mut events = Vec::new();
        for piece in bytes.chunks(chunk) {
            events.extend(parser.feed(piece));
        }
        let names: Vec<&str> = events.iter().map(|e| e.event.as_str()).collect();
        assert_eq!(
            names,
            ["update", "other", "note", "update"],
            "chunk {chunk}"
        );
        assert_eq!(events[0].data, json);
        assert_eq!(events[2].data, "a\nb");
        assert_eq!(events[3].data, json);
        let update = update_from_event(&events[0]).unwrap();
        match update {
            Update::Snapshot { graph, anomalies } => {
                assert_eq!(graph.edges.len(), 6);
                assert_eq!(anomalies.len(), 6);
            }
            other => panic!("{other:?}"),
        }
        assert!(update_from_event(&events[1]).is_none());
    }
}

#[test]
fn a_split_crlf_is_one_line_end() {
    let mut parser = SseParser::new();
    assert!(parser.feed(b"event: update\r").is_empty());
    assert!(parser.feed(b"\ndata: 1\r").is_empty());
    let events = parser.feed(b"\n\r\n");
    assert_eq!(events.len(), 1);
    assert_eq!(events[0].data, "1");
}

#[test]
fn bad_json_is_skipped() {
    let mut parser = SseParser::new();
    let events = parser.feed(b"event: update\ndata: {\"graph\": 1}\n\n");
    assert_eq!(events.len(), 1);
    assert!(update_from_event(&events[0]).is_none());
}

#[test]
fn base_urls_are_normalized() {
    assert_eq!(
        normalize_base_url("127.0.0.1:9464"),
        "http://127.0.0.1:9464"
    );
    assert_eq!(normalize_base_url("http://h:1/"), "http://h:1");
    assert_eq!(normalize_base_url(" https://h "), "https://h");
}
