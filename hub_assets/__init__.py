"""Software-defined assets of Commerce Hub, one module per part of the business."""
