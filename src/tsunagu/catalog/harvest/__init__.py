"""Harvesting other catalogs (CKAN Action API, DCAT RDF) into ours."""
