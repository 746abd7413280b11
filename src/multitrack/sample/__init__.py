"""Sampling a model: the frames <-> tensors codec, rollouts and the runtime switches they run
under. Shared by every verb that samples (`evaluate`, `generate`, `cut`)."""
