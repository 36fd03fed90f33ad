"""Files: the atomic writer, `.gabor.json`, torch-imfit `.txt`, the exported tables read back,
images and frames/video. Nothing here imports torch."""
