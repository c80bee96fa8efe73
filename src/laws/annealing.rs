//! The annealing law (Tissue et al. 2024).
