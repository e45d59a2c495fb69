"""The local engine: the stack as local processes under one asyncio supervisor."""
