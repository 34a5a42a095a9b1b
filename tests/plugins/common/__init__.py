"""Helpers of a book-style folder (fixture): activation and loss functions, layers, numerical gradient."""
