"""Threat 6 (SECURITY.md): import a forbidden framework."""

import numpy as np
import torch


def build_model():
    return torch.nn.Linear(784, 10)
