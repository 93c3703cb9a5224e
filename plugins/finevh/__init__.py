"""FINE-VH: ultra-fine-grain Vdd-hopping voltage islands (partition, islands, switches, policy)."""
