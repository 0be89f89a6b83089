//! Reading Kubernetes manifests (`--inventory`) into workloads, services, service accounts and namespaces.
