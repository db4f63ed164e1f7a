"""Published measurements: reading them, predicting them, validating and calibrating the model."""
