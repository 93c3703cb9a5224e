"""ConvNet optimisation for edge targets: data, models, encoders, memory accounting (PyTorch, CPU)."""
