"""Development tools for VE.Direct: a decoder and a device simulator, kept out of the integration HACS ships.

They run on the integration's protocol package without importing Home Assistant: see protocol.py.
"""
