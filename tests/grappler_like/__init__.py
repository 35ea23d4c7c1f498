"""Tests for ember_tf.grappler_like."""
