//! Terminal dashboard over analyzer snapshots (issue 6).
