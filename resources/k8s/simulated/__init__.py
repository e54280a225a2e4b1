"""A Kubernetes control plane on loopback for tests: etcd, kube-apiserver, controller-manager,
scheduler and kwok (simulated nodes), built from the Go module proxy once and cached by version."""
