package org.elasticsearch.plugins;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

import org.elasticsearch.env.Environment;

/**
 * A plugins service that serves plugin instances found on the JVM classpath.
 *
 * Test-harness code living in an Elasticsearch package because the record that
 * describes a loaded plugin is package-private. The normal service only loads plugins
 * from the modules/ and plugins/ folders of a distribution, which we do not have.
 */
public class ClasspathPluginsService extends PluginsService {

    private final List<LoadedPlugin> loaded;

    /** @param plugins plugin instances by name; each jar carries its descriptor under META-INF/es-plugins/NAME/ */
    public ClasspathPluginsService(Environment environment, PluginsLoader loader, Map<String, Plugin> plugins) {
        super(environment.settings(), environment.configDir(), loader);
        List<LoadedPlugin> all = new ArrayList<>(super.plugins());
        plugins.forEach((name, plugin) -> all.add(
                new LoadedPlugin(descriptor(name, plugin), plugin, plugin.getClass().getClassLoader())));
        loaded = List.copyOf(all);
    }

    private static PluginDescriptor descriptor(String name, Plugin plugin) {
        String resource = "/META-INF/es-plugins/" + name + "/plugin-descriptor.properties";
        try (InputStream in = plugin.getClass().getResourceAsStream(resource)) {
            if (in == null) {
                throw new IllegalStateException("missing " + resource + " for " + plugin.getClass());
            }
            return PluginDescriptor.readInternalDescriptorFromStream(in);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    @Override
    protected List<LoadedPlugin> plugins() {
        return loaded;
    }
}
