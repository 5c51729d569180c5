"""kvmtui: see how KVM maps guest memory, one step at a time."""

__version__ = "0.1.0"
