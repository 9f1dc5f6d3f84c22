"""The Faust shell: reads the input topics, drives the core engine, writes the outputs."""
