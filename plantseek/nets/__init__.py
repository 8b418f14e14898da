"""Host architectures behind one network protocol (the MLP is the first)."""
