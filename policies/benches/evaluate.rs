//! Evaluation with 1,000 policies (filled in with the evaluator).
fn main() {}
