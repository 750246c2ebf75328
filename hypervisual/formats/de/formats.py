from hypervisual.formats.fr.formats import *  # noqa: F403 - one Swiss format for every language
