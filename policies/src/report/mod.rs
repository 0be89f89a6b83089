//! Findings and the CI report formats: text, json, sarif, junit, github, markdown; exit codes.
