"""Container engines (podman, docker) driven through their command line: images, runs, stops."""
