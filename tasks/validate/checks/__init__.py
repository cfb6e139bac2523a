"""One module per validation check; ``registry`` lists them in the order they run."""
