// Placeholder translation unit for a component whose sources are not written yet.
