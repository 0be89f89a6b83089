//! Reading policies: multi-document YAML files and directories into the validated model, with file:line:column errors.
