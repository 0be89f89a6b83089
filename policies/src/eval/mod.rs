//! Evaluating a request against policies with Istio's exact semantics, and explaining the decision.
