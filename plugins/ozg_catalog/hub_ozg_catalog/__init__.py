"""hub plugin: the LeiKa/OZG service catalogue, the Regionalschlüssel, responsible authorities."""
