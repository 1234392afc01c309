"""The generation smoke test: prompt the model as its card says and check what comes out."""
