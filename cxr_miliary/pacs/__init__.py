"""PACS-native: a DICOM node that scores the chest films it receives (``cxr-miliary serve``)."""
