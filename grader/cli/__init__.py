"""The command line: `olympics` and its commands, the workflows' commands, and `olympics init`
(docs/DESIGN.md, Pipeline).
"""
