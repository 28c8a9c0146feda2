"""The embedded Sora-style model: video autoencoder, diffusion transformer, rectified flow."""
