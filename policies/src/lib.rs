//! Pure authorization policy library: Istio AuthorizationPolicy parsing and evaluation (issue 3).
