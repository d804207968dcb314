//! Masking, body shapes, the diff and the command line of `conformance`, without a network.
