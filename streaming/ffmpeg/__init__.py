"""FFmpeg process specs, argv building and supervision: the one way Knoten runs FFmpeg."""
