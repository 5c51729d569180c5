"""Live mode: a scenario's steps on this machine's real /dev/kvm. Standard library only (ctypes, fcntl, mmap)."""
