"""The scoring core: the models in use, and the money their scores put at stake."""
