"""Image-side measurements and transforms in numpy (no torch): quality properties (paper section 3.1),
the paper's dataset variants (section 4.1) and preview grids."""
