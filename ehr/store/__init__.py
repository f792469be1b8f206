"""Versioned resource storage behind one interface (``ehr.store.protocol.Store``)."""
