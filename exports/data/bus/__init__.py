"""Data in from the platform's message bus (MQTT, NATS), behind ``manage.py runsubscriber``.

In the order of the flow: ``topics`` (the topic layouts: channel and subtopic), ``envelope``
(the platform's protobuf envelope on NATS), ``decoding`` (payload → records, and the natural
key), ``mqtt`` and ``nats`` (the brokers, acknowledging only when told), ``storing`` (one
transaction per batch: keys, records, dead letters), ``subscriber`` (the loop, batching, acks
and the heartbeat). README "Live data" says how to run it and what it promises.
"""
