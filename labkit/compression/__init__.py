"""Making a model smaller and faster, measured: distillation, dynamic int8 quantisation, input length.

The package, one concept per file:

- ``distillation``    the distillation loss (Hinton et al., 2015) and training a student from a teacher's logits
- ``quantisation``    post-training dynamic int8 quantisation of the Linear layers; size on disk, latency
- ``length_scaling``  encoder latency and memory against sequence length; attention's share; the crossover
- ``truncation``      the same fine-tuning run at several ``max_length`` (what truncation costs)
- ``records``         writing a compressed model's results folder in the selection-table format
- ``jobs``            the shipped runs behind ``labkit compress`` (teacher logits, distilled students, int8
                      models, Reuters at several lengths, the length-scaling timings)
"""
